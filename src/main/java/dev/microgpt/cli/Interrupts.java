package dev.microgpt.cli;

import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * Turns the first Ctrl-C (SIGINT) during training into a request to stop at the next step boundary, so that the
 * run can save a checkpoint; a second Ctrl-C ends the process at once.
 */
final class Interrupts {

    /** Exit status of a process ended by SIGINT, by shell convention (128 + 2). */
    static final int EXIT_CODE = 130;

    private static final AtomicBoolean REQUESTED = new AtomicBoolean();

    private Interrupts() {
    }

    /** Installs the handler; where the JVM does not allow it, Ctrl-C keeps its default effect. */
    static void install() {
        try {
            Signal.handle(new Signal("INT"), signal -> {
                if (!REQUESTED.compareAndSet(false, true)) {
                    Runtime.getRuntime().halt(EXIT_CODE);
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGINT handling on this platform or JVM configuration (e.g. -Xrs)
        }
    }

    static boolean requested() {
        return REQUESTED.get();
    }
}
