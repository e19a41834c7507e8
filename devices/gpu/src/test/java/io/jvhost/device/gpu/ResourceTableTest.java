package io.jvhost.device.gpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ResourceTableTest
{
    private static Resource blob(final int id)
    {
        return Resource.createBlob(id, 1, null);
    }

    @Test
    void behavesLikeAMapUnderRandomInsertsAndRemovals()
    {
        final ResourceTable table = new ResourceTable();
        final Map<Integer, Resource> reference = new HashMap<>();
        final Random random = new Random(7);
        for (int i = 0; i < 20_000; i++)
        {
            // A small id space forces collisions, long probe chains and backward shifts.
            final int id = random.nextInt(300) - 150;
            if (0 == id)
            {
                assertThat(table.get(0)).isNull();
                continue;
            }
            if (random.nextBoolean() && !reference.containsKey(id))
            {
                final Resource r = blob(id);
                table.put(r);
                reference.put(id, r);
            }
            else
            {
                assertThat(table.remove(id)).isSameAs(reference.remove(id));
            }
            assertThat(table.size()).isEqualTo(reference.size());
            final int probe = random.nextInt(300) - 150;
            assertThat(table.get(probe)).isSameAs(reference.get(probe));
        }
        final List<Resource> drained = new ArrayList<>();
        table.drain(drained::add);
        assertThat(drained).containsExactlyInAnyOrderElementsOf(reference.values());
        assertThat(table.size()).isZero();
        assertThat(table.get(drained.isEmpty() ? 1 : drained.get(0).id)).isNull();
    }
}
