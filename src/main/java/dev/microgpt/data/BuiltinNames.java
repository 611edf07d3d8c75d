package dev.microgpt.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The fallback dataset packaged with the trainer: common given names from many languages, one per line, in
 * lower-case ASCII like the makemore names, so that a model trained on either has the same 27-token vocabulary.
 */
final class BuiltinNames {

    static final String RESOURCE = "builtin-names.txt";

    private BuiltinNames() {
    }

    /** The resource's bytes; a missing resource is a packaging bug, not a user error, so it is unchecked. */
    static byte[] bytes() {
        try (InputStream in = BuiltinNames.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + RESOURCE + " is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read resource " + RESOURCE, e);
        }
    }
}
