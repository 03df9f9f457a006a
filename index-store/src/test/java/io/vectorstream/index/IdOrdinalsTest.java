package io.vectorstream.index;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class IdOrdinalsTest {

    /** Random puts, replacements and removals agree with a HashMap at every step (small key space: long probe runs). */
    @Test
    void agreesWithAHashMapThroughRandomPutsAndRemovals() {
        for (int keySpace : new int[] {7, 300, 20_000}) {
            Random r = new Random(keySpace);
            IdOrdinals map = new IdOrdinals(4);
            Map<String, Integer> want = new HashMap<>();
            for (int step = 0; step < 200_000; step++) {
                String id = "id-" + r.nextInt(keySpace);
                int op = r.nextInt(3);
                if (op == 0) {
                    assertThat(map.remove(id)).isEqualTo(want.containsKey(id) ? want.remove(id) : -1);
                } else {
                    int ordinal = r.nextInt(1_000_000);
                    map.put(id, ordinal);
                    want.put(id, ordinal);
                }
                if (step % 997 == 0) {
                    assertThat(map.size()).isEqualTo(want.size());
                    for (int k = 0; k < Math.min(keySpace, 400); k++) {
                        String key = "id-" + k;
                        assertThat(map.get(key)).as(key).isEqualTo(want.getOrDefault(key, -1));
                    }
                    Set<String> ids = new HashSet<>();
                    map.forEachId(ids::add);
                    assertThat(ids).isEqualTo(want.keySet());
                }
            }
        }
    }

    /** Ids whose hashes collide (same hashCode) still resolve, and removing one keeps the others reachable. */
    @Test
    void collidingHashesStayReachableAfterRemovals() {
        IdOrdinals map = new IdOrdinals();
        String[] same = {"Aa", "BB", "AaAa", "AaBB", "BBAa", "BBBB"}; // "Aa" and "BB" share a hashCode
        for (int i = 0; i < same.length; i++) map.put(same[i], i);
        assertThat(map.remove("Aa")).isEqualTo(0);
        assertThat(map.remove("AaBB")).isEqualTo(3);
        assertThat(map.get("BB")).isEqualTo(1);
        assertThat(map.get("BBBB")).isEqualTo(5);
        assertThat(map.get("AaAa")).isEqualTo(2);
        assertThat(map.get("Aa")).isEqualTo(-1);
        map.clear();
        assertThat(map.size()).isZero();
        assertThat(map.get("BB")).isEqualTo(-1);
    }
}
