package io.jvhost.device.gpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GpuOptionsTest
{
    @Test
    void defaultsAreQemus()
    {
        final GpuOptions o = GpuOptions.defaults();
        assertThat(o.maxOutputs()).isEqualTo(1);
        assertThat(o.maxHostMem()).isEqualTo(256L << 20);
        assertThat(o.edid()).isTrue();
        assertThat(o.defaultWidth()).isEqualTo(1280);
        assertThat(o.defaultHeight()).isEqualTo(800);
        assertThat(o.resourceUuid()).isTrue();
        assertThat(o.resourceBlob()).as("blob=off, as QEMU's virtio-gpu").isFalse();
        assertThat(o.toBuilder().build()).isEqualTo(o);
    }

    @Test
    void outOfRangeValuesAreRefusedNamingTheValue()
    {
        assertThatThrownBy(() -> GpuOptions.builder().maxOutputs(0).build())
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxOutputs").hasMessageContaining("0");
        assertThatThrownBy(() -> GpuOptions.builder().maxOutputs(17).build()).hasMessageContaining("got 17");
        assertThatThrownBy(() -> GpuOptions.builder().maxHostMem(0).build())
            .hasMessageContaining("maxHostMem").hasMessageContaining("got 0");
        assertThatThrownBy(() -> GpuOptions.builder().maxHostMem(-5).build()).hasMessageContaining("got -5");
        assertThatThrownBy(() -> GpuOptions.builder().defaultMode(0, 600).build())
            .hasMessageContaining("defaultWidth").hasMessageContaining("got 0");
        assertThatThrownBy(() -> GpuOptions.builder().defaultMode(800, 4096).build())
            .hasMessageContaining("defaultHeight").hasMessageContaining("got 4096");
    }

    @Test
    void threeDOptionsKeepFencesOnTheWorkerAndVenusWithItsFlag()
    {
        assertThatThrownBy(() -> GpuOptions.builder().virgl(0xb | 1 << 8, 1 << 2).build())
            .hasMessageContaining("ASYNC_FENCE_CB");
        assertThatThrownBy(() -> GpuOptions.builder().virgl(0xb, 1 << 4).build())
            .hasMessageContaining("capset venus (4) needs virglrenderer started with VENUS");
        assertThat(GpuOptions.builder().virgl(0xb | 1 << 6, 1 << 2 | 1 << 4).build().capsets())
            .isEqualTo(1 << 2 | 1 << 4);
        assertThatThrownBy(() -> GpuOptions.builder().virgl(0xb, 1 << 3).build())
            .hasMessageContaining("got 0x8");
    }

    @Test
    void builderSetsEveryField()
    {
        final GpuOptions o = GpuOptions.builder().maxOutputs(16).maxHostMem(1).edid(false).defaultMode(4095, 1)
            .resourceUuid(false).resourceBlob(true).build();
        assertThat(o).isEqualTo(new GpuOptions(16, 1, false, 4095, 1, false, true, 0, 0));
    }
}
