package io.jvhost.virgl;

/**
 * What {@code virgl_renderer_get_cap_set} says of one capability set: GET_CAPSET_INFO's answer.
 *
 * @param id         the capset id ({@link VirglRenderer#CAPSET_VIRGL}, {@link VirglRenderer#CAPSET_VIRGL2}...).
 * @param maxVersion the newest version the host fills (0: the set is not offered).
 * @param maxSize    the bytes {@code fill_caps} writes for it.
 */
public record CapsetInfo(int id, int maxVersion, int maxSize)
{
}
