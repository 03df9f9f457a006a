package io.vectorstream.bench;

import io.vectorstream.kernels.Kernels;

import java.util.Arrays;

/**
 * Entry point of {@code vectorstream-bench.jar}; {@code bin/vectorstream} dispatches the verbs
 * {@code bench-index}, {@code gen-data} and {@code streams-floor} here. JMH micro-benchmarks run through
 * {@code org.openjdk.jmh.Main} on the same class path (see bench/RESULTS.md).
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.println("usage: vectorstream bench-index --help | vectorstream gen-data --help | vectorstream streams-floor --help");
            return;
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0]) {
                case "bench-index" -> {
                    System.err.println("kernels: " + Kernels.cpuDescription());
                    BenchIndex.main(rest);
                }
                case "gen-data" -> GenData.main(rest);
                case "streams-floor" -> StreamsFloor.main(rest);
                default -> throw new IllegalArgumentException("unknown verb '" + args[0] + "': expected bench-index, gen-data or streams-floor");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
    }
}
