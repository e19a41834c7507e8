package io.jvhost.virgl;

/**
 * What {@link VirglRenderer#cursorData} found: the size of the resource's image and whether it fitted the
 * caller's buffer (and so was copied there).
 *
 * @param width  pixels per row.
 * @param height rows.
 * @param copied true when {@code width * height * 4} bytes were copied into the caller's buffer.
 */
public record CursorImage(int width, int height, boolean copied)
{
}
