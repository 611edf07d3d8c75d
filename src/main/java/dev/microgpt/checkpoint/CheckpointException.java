package dev.microgpt.checkpoint;

import java.io.IOException;

/**
 * A checkpoint could not be written or was refused when read. The message is one line that names the file, what is
 * wrong with it, and what to do about it, fit to show a user as is.
 */
public class CheckpointException extends IOException {

    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
