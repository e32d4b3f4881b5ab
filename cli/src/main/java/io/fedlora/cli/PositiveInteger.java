package io.fedlora.cli;

import picocli.CommandLine;

/** Converts an option value to a whole number above zero, or refuses it naming the value: counts and sizes. */
public final class PositiveInteger implements CommandLine.ITypeConverter<Integer> {

    @Override
    public Integer convert(String value) {
        int v;
        try {
            v = Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a whole number");
        }
        if (v <= 0) {
            throw new CommandLine.TypeConversionException("must be positive (at least 1), got " + v);
        }
        return v;
    }
}
