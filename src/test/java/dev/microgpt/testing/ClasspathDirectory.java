package dev.microgpt.testing;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.util.Map;

/** The directory that holds a class-path resource, whether the class path is a folder or a jar. */
public final class ClasspathDirectory {

    private ClasspathDirectory() {
    }

    /** The directory of {@code resource}, e.g. of /kernels/kernels.properties: /kernels (inside a jar too). */
    public static Path of(URL resource) throws IOException {
        try {
            if ("jar".equals(resource.getProtocol())) {
                FileSystem fs;
                try {
                    fs = FileSystems.getFileSystem(resource.toURI());
                } catch (FileSystemNotFoundException e) {
                    fs = FileSystems.newFileSystem(resource.toURI(), Map.of());
                }
                String entry = resource.getPath().substring(resource.getPath().indexOf("!/") + 1);
                return fs.getPath(entry).getParent();
            }
            return Path.of(resource.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }
}
