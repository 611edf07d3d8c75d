package dev.microgpt.cli;

/** What this session has trained so far, for its rates: steps of B documents each, the tokens, the time. */
final class Throughput {

    private final int batchSize;
    private long steps;
    private long tokens;
    private long elapsedNanos;

    Throughput(int batchSize) {
        this.batchSize = batchSize;
    }

    /** One more step, of {@code stepTokens} trained positions, finished {@code elapsedNanos} after the start. */
    void add(int stepTokens, long elapsedNanos) {
        steps++;
        tokens += stepTokens;
        this.elapsedNanos = elapsedNanos;
    }

    long steps() {
        return steps;
    }

    long elapsedNanos() {
        return elapsedNanos;
    }

    double millisPerStep() {
        return elapsedNanos / 1e6 / steps;
    }

    double documentsPerSecond() {
        return steps * batchSize / seconds();
    }

    double tokensPerSecond() {
        return tokens / seconds();
    }

    private double seconds() {
        return Math.max(elapsedNanos, 1) / 1e9;
    }
}
