package io.jvhost.vhostuser.protocol.gpu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The display-protocol constants against the numbers in {@code vhost-user-gpu.rst} and QEMU's structs, written out
 * as literals.
 */
class GpuProtocolTest
{
    @Test
    void messageIdsAndNames()
    {
        final int[] ids = {GpuRequest.GET_PROTOCOL_FEATURES, GpuRequest.SET_PROTOCOL_FEATURES,
            GpuRequest.GET_DISPLAY_INFO, GpuRequest.CURSOR_POS, GpuRequest.CURSOR_POS_HIDE, GpuRequest.CURSOR_UPDATE,
            GpuRequest.SCANOUT, GpuRequest.UPDATE, GpuRequest.DMABUF_SCANOUT, GpuRequest.DMABUF_UPDATE,
            GpuRequest.GET_EDID, GpuRequest.DMABUF_SCANOUT2};
        for (int i = 0; i < ids.length; i++)
        {
            assertThat(ids[i]).isEqualTo(i + 1);
        }
        assertThat(GpuRequest.name(8)).isEqualTo("UPDATE");
        assertThat(GpuRequest.name(12)).isEqualTo("DMABUF_SCANOUT2");
        assertThat(GpuRequest.name(0)).isEqualTo("UNKNOWN(0)");
        assertThat(GpuRequest.name(13)).isEqualTo("UNKNOWN(13)");
        assertThat(GpuRequest.REQUEST_FLAGS).as("no version bits").isZero();
        assertThat(GpuRequest.REPLY_FLAGS).isEqualTo(4);
    }

    @Test
    void onlyFourMessagesGetReplies()
    {
        for (int id = 0; id <= 13; id++)
        {
            assertThat(GpuRequest.hasReply(id)).as(GpuRequest.name(id))
                .isEqualTo(id == 1 || id == 3 || id == 10 || id == 11);
            assertThat(GpuPayloads.replySize(id) >= 0).isEqualTo(GpuRequest.hasReply(id));
        }
        assertThat(GpuPayloads.replySize(1)).isEqualTo(8);
        assertThat(GpuPayloads.replySize(3)).isEqualTo(408);
        assertThat(GpuPayloads.replySize(11)).isEqualTo(1056);
        assertThat(GpuPayloads.replySize(10)).isZero();
    }

    @Test
    void featureBits()
    {
        assertThat(GpuProtocolFeature.bit(GpuProtocolFeature.EDID)).isEqualTo(1);
        assertThat(GpuProtocolFeature.bit(GpuProtocolFeature.DMABUF2)).isEqualTo(2);
        assertThat(GpuProtocolFeature.has(3, GpuProtocolFeature.DMABUF2)).isTrue();
        assertThat(GpuProtocolFeature.has(1, GpuProtocolFeature.DMABUF2)).isFalse();
    }

    @Test
    void payloadLayouts()
    {
        assertThat(GpuPayloads.requestSize(GpuRequest.CURSOR_POS)).isEqualTo(12);
        assertThat(GpuPayloads.requestSize(GpuRequest.CURSOR_POS_HIDE)).isEqualTo(12);
        assertThat(GpuPayloads.requestSize(GpuRequest.CURSOR_UPDATE)).isEqualTo(16404);
        assertThat(GpuPayloads.CURSOR_UPDATE_DATA).isEqualTo(20);
        assertThat(GpuPayloads.CURSOR_UPDATE_HOT_X).isEqualTo(12);
        assertThat(GpuPayloads.CURSOR_UPDATE_HOT_Y).isEqualTo(16);
        assertThat(GpuPayloads.requestSize(GpuRequest.SCANOUT)).isEqualTo(12);
        assertThat(GpuPayloads.UPDATE_HEADER_SIZE).isEqualTo(20);
        assertThat(GpuPayloads.updateSize(1280, 800)).isEqualTo(4_096_020);
        assertThat(GpuPayloads.requestSize(GpuRequest.UPDATE)).as("depends on the rectangle").isEqualTo(-1);
        assertThat(GpuPayloads.requestSize(GpuRequest.DMABUF_SCANOUT)).isEqualTo(40);
        assertThat(GpuPayloads.requestSize(GpuRequest.DMABUF_SCANOUT2)).isEqualTo(48);
        assertThat(GpuPayloads.requestSize(GpuRequest.GET_EDID)).isEqualTo(4);
        assertThat(GpuPayloads.requestSize(GpuRequest.SET_PROTOCOL_FEATURES)).isEqualTo(8);
        assertThat(GpuPayloads.requestSize(GpuRequest.GET_DISPLAY_INFO)).isZero();
        assertThat(GpuPayloads.DISPLAY_INFO_SIZE).isEqualTo(408);
        assertThat(GpuPayloads.pmodeOffset(0)).isEqualTo(24);
        assertThat(GpuPayloads.pmodeOffset(15) + 24).isEqualTo(408);
        assertThat(GpuPayloads.EDID_REPLY_SIZE).isEqualTo(1056);
        assertThat(GpuPayloads.EDID_REPLY_SIZE_FIELD).isEqualTo(24);
        assertThat(GpuPayloads.EDID_REPLY_DATA).isEqualTo(32);
        assertThat(GpuPayloads.RESP_OK_DISPLAY_INFO).isEqualTo(0x1101);
        assertThat(GpuPayloads.RESP_OK_EDID).isEqualTo(0x1104);
    }
}
