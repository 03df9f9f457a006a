package io.vectorstream.index;

import java.util.List;

/** Told about every batch a shard publishes, on the shard's writer thread: must be cheap and never block. */
public interface ShardListener {
    ShardListener NONE = (shard, ops, published) -> { };

    void applied(Shard shard, List<IndexOp> ops, ShardSnapshot published);
}
