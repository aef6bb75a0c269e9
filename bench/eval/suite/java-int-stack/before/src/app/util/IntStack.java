package app.util;

/** A stack of ints without boxing, for the expression evaluator. */
public class IntStack {
    private int[] items;
    private int size;

    public IntStack(int capacity) {
        items = new int[capacity];
    }

    public IntStack() {
        this(8);
    }

    public void push(int value) {
        items[size++] = value;
    }

    public int pop() {
        return items[--size];
    }

    public int peek() {
        return items[size - 1];
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }
}
