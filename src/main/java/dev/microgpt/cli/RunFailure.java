package dev.microgpt.cli;

/** A run that cannot go on (no usable GPU, training diverged): exit code 1, one line. */
final class RunFailure extends RuntimeException {
    RunFailure(String message) {
        super(message);
    }
}
