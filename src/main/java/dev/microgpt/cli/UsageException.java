package dev.microgpt.cli;

/** A problem with the arguments themselves: exit code 2, one line naming the problem and the fix. */
final class UsageException extends RuntimeException {
    UsageException(String message) {
        super(message);
    }
}
