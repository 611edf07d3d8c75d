package dev.microgpt.data;

import java.util.List;
import java.util.Objects;

/**
 * The documents to train on and where they came from.
 *
 * @param documents   the stripped, non-blank lines of the dataset, in file order
 * @param origin      which kind of source supplied them
 * @param description one line for the log saying where the documents came from, e.g. {@code read input.txt}
 * @param sha256      lower-case hex SHA-256 of the bytes the documents were parsed from; a checkpoint stores it so
 *                    that resuming on a different dataset can be detected
 */
public record Dataset(List<String> documents, Origin origin, String description, String sha256) {

    /** Which kind of source supplied the documents. */
    public enum Origin {
        /** A file on disk: the one given with {@code --input}, or an existing {@code input.txt}. */
        FILE,
        /** The makemore names, just downloaded, verified and saved as {@code input.txt}. */
        DOWNLOADED,
        /** The list of names packaged with the trainer, used when the download was not possible. */
        BUILT_IN
    }

    public Dataset {
        documents = List.copyOf(documents);
        Objects.requireNonNull(origin, "origin");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(sha256, "sha256");
    }
}
