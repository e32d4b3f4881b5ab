package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.clientapi.BundleEntry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Byte sources for bundle entries: one tensor of a safetensors blob, or a whole file, opened lazily. */
final class TensorSlice {

    private TensorSlice() {
    }

    /**
     * One tensor's bytes, read from the blob with positional reads. Not a memory mapping: a download that mapped
     * each tensor left ~500 MB of GPT-2-small mapped until a garbage collection unmapped it, and with a small,
     * quiet heap that was rarely, so resident memory grew by the model's size with every client that downloaded.
     */
    static BundleEntry.ByteSource tensor(Path blob, String name) {
        return () -> {
            long offset;
            long length;
            try (SafetensorsReader reader = SafetensorsReader.open(blob)) {
                offset = reader.dataOffset(name);
                length = reader.info(name).byteLength();
            } catch (RuntimeException e) {
                throw new IOException("cannot read tensor " + name + " of " + blob + ": " + e.getMessage(), e);
            }
            return new ChannelSlice(FileChannel.open(blob, StandardOpenOption.READ), offset, length);
        };
    }

    static BundleEntry.ByteSource file(Path file) {
        return () -> Files.newInputStream(file);
    }

    /** {@code length} bytes of a file from {@code offset}, by positional reads; closing closes the channel. */
    private static final class ChannelSlice extends InputStream {
        private final FileChannel channel;
        private final long end;
        private long position;

        ChannelSlice(FileChannel channel, long offset, long length) {
            this.channel = channel;
            this.position = offset;
            this.end = offset + length;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) == 1 ? one[0] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (position >= end) {
                return -1;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
            if (n > 0) {
                position += n;
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
