package io.vectorstream.app;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code vectorstream serve}: consume the topic, keep the index, answer queries until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Consume embedding events from Kafka into the index and serve queries over HTTP.")
final class ServeCommand implements Callable<Integer> {

    @Mixin
    ServeOptions options;

    @Mixin
    MaintenanceOptions maintenance;

    @Override
    public Integer call() throws Exception {
        ServerSettings settings = options.toSettings();
        VectorstreamServer server = VectorstreamServer.start(settings, maintenance.toSettings());
        awaitShutdown(server);
        return 0;
    }

    /** Blocks until SIGTERM/SIGINT, then closes the server cleanly. */
    static void awaitShutdown(VectorstreamServer server) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "vectorstream-shutdown"));
        stopped.await();
    }
}
