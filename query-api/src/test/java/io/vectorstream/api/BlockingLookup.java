package io.vectorstream.api;

import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * A look-up that blocks the worker asking for the id "block" until released: a way to keep the API's worker pool
 * busy for as long as a test wants. Every other id is not found.
 */
final class BlockingLookup implements VectorLookup {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    @Override
    public Optional<StoredVector> find(String id) {
        if (id.equals("block")) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return Optional.empty();
    }
}
