package dev.microgpt.checkpoint;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A safetensors file taken apart into its JSON header and data buffer, and put back together: the tests' way to
 * build files with one thing wrong while the rest, checksum included, stays valid.
 */
record SafetensorsBytes(JsonObject header, byte[] data) {

    static SafetensorsBytes parse(byte[] file) {
        ByteBuffer bytes = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = Math.toIntExact(bytes.getLong(0));
        String json = new String(file, Long.BYTES, headerLength, StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(file, Long.BYTES + headerLength, file.length);
        return new SafetensorsBytes(JsonParser.parseString(json).getAsJsonObject(), data);
    }

    /** The header's {@code __metadata__} object, to edit in place. */
    JsonObject metadata() {
        return header.getAsJsonObject("__metadata__");
    }

    /** The file: 8-byte little-endian length, the header's JSON (unpadded), the data. */
    byte[] assemble() {
        byte[] json = new GsonBuilder().disableHtmlEscaping().create().toJson(header)
                .getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(Long.BYTES + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(json.length).put(json).put(data).array();
    }
}
