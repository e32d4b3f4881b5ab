package io.fedlora.aggregation.basemodel;

/** Why a local copy of the base model is not the federation's: the first entry (manifest order) that differs. */
public record Difference(String name, String reason) {

    @Override
    public String toString() {
        return name + ": " + reason;
    }
}
