package io.fedlora.agent.daemon.cache;

/** Wire and cache names of adapter tensors: {@code <module>.lora_A} and {@code <module>.lora_B}. */
public final class AdapterKeys {

    public static final String A_SUFFIX = ".lora_A";
    public static final String B_SUFFIX = ".lora_B";

    private AdapterKeys() {}

    public static String a(String module) {
        return module + A_SUFFIX;
    }

    public static String b(String module) {
        return module + B_SUFFIX;
    }

    /** The module of an adapter tensor name ({@code h.0.attn.c_attn.lora_A} gives {@code h.0.attn.c_attn}). */
    public static String moduleOf(String name) {
        if (name.endsWith(A_SUFFIX)) {
            return name.substring(0, name.length() - A_SUFFIX.length());
        }
        if (name.endsWith(B_SUFFIX)) {
            return name.substring(0, name.length() - B_SUFFIX.length());
        }
        throw new IllegalArgumentException("not an adapter tensor name: " + name);
    }
}
