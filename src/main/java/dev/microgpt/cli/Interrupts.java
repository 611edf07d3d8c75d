package dev.microgpt.cli;

import dev.microgpt.files.ReplacedFile;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Turns the first Ctrl-C or docker stop (SIGINT), SIGTERM (kill, a scheduler's preemption) or SIGHUP (the terminal or
 * the ssh session closed; not under nohup, which the JVM leaves ignored) during training into a request to stop at the
 * next step boundary, so that the run can save a checkpoint; a second one ends the process at once, saying so. The
 * handlers stay on until the run's last checkpoint is saved and are then put back, so that sampling, and everything
 * before training, stops as usual.
 */
final class Interrupts implements AutoCloseable {

    private static final Signal[] STOPPING = {new Signal("INT"), new Signal("TERM"), new Signal("HUP")};
    private static final String[] NAMES = {"Ctrl-C", "SIGTERM", "SIGHUP"}; // [STOPPING.length], for messages
    private static final AtomicInteger REQUESTED = new AtomicInteger(); // the number of the signal received, or 0

    private final SignalHandler[] previous; // [STOPPING.length] null where the JVM allows no handler

    private Interrupts(SignalHandler[] previous) {
        this.previous = previous;
    }

    /** Installs the handlers for the duration of training; where the JVM does not allow one, its signal keeps its effect. */
    static Interrupts duringTraining() {
        SignalHandler[] previous = new SignalHandler[STOPPING.length];
        for (int i = 0; i < STOPPING.length; i++) {
            try {
                previous[i] = Signal.handle(STOPPING[i], signal -> {
                    if (!REQUESTED.compareAndSet(0, signal.getNumber())) {
                        ReplacedFile.abandonWritesInProgress();
                        System.err.println("stopped at once by a second signal, without saving; the last checkpoint"
                                + " saved, if any, is intact");
                        Runtime.getRuntime().halt(exitCode(signal.getNumber()));
                    }
                });
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                previous[i] = null; // no handling of this signal in this JVM configuration (e.g. -Xrs)
            }
        }
        return new Interrupts(previous);
    }

    static boolean requested() {
        return REQUESTED.get() != 0;
    }

    /** The name of the signal that asked the run to stop, for messages: "Ctrl-C", "SIGTERM" or "SIGHUP". */
    static String requestName() {
        for (int i = 0; i < STOPPING.length; i++) {
            if (STOPPING[i].getNumber() == REQUESTED.get()) {
                return NAMES[i];
            }
        }
        return "signal " + REQUESTED.get();
    }

    /** The exit status after a requested stop, by shell convention 128 + the signal: 130, 143 or 129 (SIGHUP). */
    static int exitCode() {
        return exitCode(REQUESTED.get());
    }

    private static int exitCode(int signal) {
        return 128 + signal;
    }

    @Override
    public void close() {
        for (int i = 0; i < STOPPING.length; i++) {
            if (previous[i] != null) {
                Signal.handle(STOPPING[i], previous[i]);
            }
        }
    }
}
