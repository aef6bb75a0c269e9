package app.util;

import java.util.Arrays;

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
        if (size == items.length) {
            items = Arrays.copyOf(items, Math.max(1, items.length * 2));
        }
        items[size++] = value;
    }

    public int pop() {
        if (size == 0) {
            throw new IllegalStateException("stack is empty");
        }
        return items[--size];
    }

    public int peek() {
        if (size == 0) {
            throw new IllegalStateException("stack is empty");
        }
        return items[size - 1];
    }

    public int size() {
        return size;
    }

    public boolean isEmpty() {
        return size == 0;
    }
}
