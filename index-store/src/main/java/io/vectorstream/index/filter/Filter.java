package io.vectorstream.index.filter;

import java.util.List;
import java.util.Set;

/**
 * A metadata filter: a predicate over a vector's {@link MetadataDoc}, parsed by {@link FilterParser} from the
 * Mongo-style JSON that Pinecone and Chroma use. A field with several values (an array) matches when any value
 * does; a string compared with a number, or anything with a boolean by order, never matches. Following MongoDB,
 * {@code $ne}, {@code $nin} and {@code $not} also match a vector that lacks the field.
 */
public sealed interface Filter {

    boolean matches(MetadataDoc doc);

    /** The empty filter {@code {}}: every vector. */
    record All() implements Filter {
        public boolean matches(MetadataDoc doc) {
            return true;
        }
    }

    record And(List<Filter> all) implements Filter {
        public boolean matches(MetadataDoc doc) {
            for (Filter f : all) if (!f.matches(doc)) return false;
            return true;
        }
    }

    record Or(List<Filter> any) implements Filter {
        public boolean matches(MetadataDoc doc) {
            for (Filter f : any) if (f.matches(doc)) return true;
            return false;
        }
    }

    record Not(Filter negated) implements Filter {
        public boolean matches(MetadataDoc doc) {
            return !negated.matches(doc);
        }
    }

    /** {@code $eq}: some value at {@code path} equals {@code value} (a String, Double or Boolean). */
    record Eq(String path, Object value) implements Filter {
        public boolean matches(MetadataDoc doc) {
            Object[] values = doc.values(path);
            if (values == null) return false;
            for (Object v : values) if (value.equals(v)) return true;
            return false;
        }
    }

    /** {@code $in}: some value at {@code path} is one of {@code values}. */
    record In(String path, Set<Object> values) implements Filter {
        public boolean matches(MetadataDoc doc) {
            Object[] at = doc.values(path);
            if (at == null) return false;
            for (Object v : at) if (values.contains(v)) return true;
            return false;
        }
    }

    /** An order comparison ({@code $gt $gte $lt $lte}) against a Double or a String bound. */
    record Range(String path, Comparison op, Object bound) implements Filter {
        public boolean matches(MetadataDoc doc) {
            Object[] values = doc.values(path);
            if (values == null) return false;
            for (Object v : values) {
                if (v.getClass() != bound.getClass()) continue; // a string vs a number never matches
                @SuppressWarnings({"unchecked", "rawtypes"})
                int c = ((Comparable) v).compareTo(bound);
                if (op.holds(c)) return true;
            }
            return false;
        }
    }

    /** {@code $exists}: whether {@code path} is present (with any value, null or an object included). */
    record Exists(String path, boolean present) implements Filter {
        public boolean matches(MetadataDoc doc) {
            return (doc.values(path) != null) == present;
        }
    }

    enum Comparison {
        GT("$gt"), GTE("$gte"), LT("$lt"), LTE("$lte");

        final String operator;

        Comparison(String operator) {
            this.operator = operator;
        }

        /** Whether {@code value.compareTo(bound) == c} satisfies this comparison. */
        boolean holds(int c) {
            return switch (this) {
                case GT -> c > 0;
                case GTE -> c >= 0;
                case LT -> c < 0;
                case LTE -> c <= 0;
            };
        }
    }
}
