package io.vectorstream.index.filter;

/** A filter that cannot be parsed: {@link #path()} names where (e.g. {@code filter.$or[1].year.$gte}). */
public final class InvalidFilterException extends IllegalArgumentException {
    private final String path;

    public InvalidFilterException(String path, String message) {
        super(path + ": " + message);
        this.path = path;
    }

    public String path() {
        return path;
    }
}
