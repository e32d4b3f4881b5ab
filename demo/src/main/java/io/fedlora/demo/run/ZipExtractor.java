package io.fedlora.demo.run;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/** Unpacks an exported model zip, refusing entries that would land outside the target directory. */
public final class ZipExtractor {

    private ZipExtractor() {
    }

    /** Extracts {@code zip} into {@code dir}; returns the files written, relative to {@code dir}. */
    public static List<Path> extract(Path zip, Path dir) throws IOException {
        Path root = dir.toAbsolutePath().normalize();
        Files.createDirectories(root);
        List<Path> written = new ArrayList<>();
        try (InputStream in = Files.newInputStream(zip); ZipInputStream zin = new ZipInputStream(in)) {
            for (ZipEntry entry = zin.getNextEntry(); entry != null; entry = zin.getNextEntry()) {
                Path target = root.resolve(entry.getName()).normalize();
                if (!target.startsWith(root)) {
                    throw new IOException("zip entry '" + entry.getName() + "' in " + zip + " points outside " + root);
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(target);
                } else {
                    Files.createDirectories(target.getParent());
                    Files.copy(zin, target, StandardCopyOption.REPLACE_EXISTING);
                    written.add(root.relativize(target));
                }
            }
        }
        if (written.isEmpty()) {
            throw new IOException(zip + " holds no files");
        }
        return written;
    }
}
