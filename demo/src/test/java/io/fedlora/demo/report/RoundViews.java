package io.fedlora.demo.report;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.RoundView;

/** Test helper: parses a rounds answer the way the admin client does. */
final class RoundViews {

    private RoundViews() {
    }

    static List<RoundView> parse(JsonNode array) {
        List<RoundView> rounds = new ArrayList<>();
        array.forEach(r -> rounds.add(RoundView.parse(r)));
        return rounds;
    }
}
