package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.clientapi.BundleEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Byte sources for bundle entries: one tensor of a safetensors blob, or a whole file, opened lazily. */
final class TensorSlice {

    private TensorSlice() {
    }

    static BundleEntry.ByteSource tensor(Path blob, String name) {
        return () -> {
            SafetensorsReader reader = SafetensorsReader.open(blob);
            try {
                return new BufferStream(reader.readRaw(name), reader);
            } catch (RuntimeException e) {
                reader.close();
                throw new IOException("cannot read tensor " + name + " of " + blob + ": " + e.getMessage(), e);
            }
        };
    }

    static BundleEntry.ByteSource file(Path file) {
        return () -> Files.newInputStream(file);
    }

    /** An InputStream over a (memory-mapped) buffer that closes the reader owning the mapping. */
    private static final class BufferStream extends InputStream {
        private final ByteBuffer buf;
        private final AutoCloseable owner;

        BufferStream(ByteBuffer buf, AutoCloseable owner) {
            this.buf = buf.duplicate();
            this.owner = owner;
        }

        @Override
        public int read() {
            return buf.hasRemaining() ? buf.get() & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (len == 0) {
                return 0;
            }
            if (!buf.hasRemaining()) {
                return -1;
            }
            int n = Math.min(len, buf.remaining());
            buf.get(b, off, n);
            return n;
        }

        @Override
        public int available() {
            return buf.remaining();
        }

        @Override
        public void close() throws IOException {
            try {
                owner.close();
            } catch (IOException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
    }
}
