package app.util;

/** Reverse Polish notation: "3 4 + 2 *" is 14. */
public final class Rpn {
    private Rpn() {}

    public static int eval(String expression) {
        IntStack stack = new IntStack(2);
        for (String token : expression.trim().split("\\s+")) {
            switch (token) {
                case "+" -> stack.push(stack.pop() + stack.pop());
                case "*" -> stack.push(stack.pop() * stack.pop());
                case "-" -> {
                    int b = stack.pop();
                    stack.push(stack.pop() - b);
                }
                default -> stack.push(Integer.parseInt(token));
            }
        }
        return stack.pop();
    }
}
