package io.jvhost.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Puts a generated report into a Markdown document between its two marker comments, so a rerun replaces the last
 * results and leaves the hand-written text around them alone.
 */
public final class MarkdownSplice
{
    private MarkdownSplice()
    {
    }

    /**
     * Replaces the text from {@code beginMarker} to {@code endMarker} (inclusive, and the line break after it) in
     * {@code doc} by {@code markdown}, which carries the markers itself; appends it when the markers are missing.
     */
    public static void splice(final Path doc, final String beginMarker, final String endMarker, final String markdown)
        throws IOException
    {
        final String text = Files.exists(doc) ? Files.readString(doc, StandardCharsets.UTF_8) : "";
        final int begin = text.indexOf(beginMarker);
        final int end = text.indexOf(endMarker);
        final String updated;
        if (begin >= 0 && end > begin)
        {
            int after = end + endMarker.length();
            if (after < text.length() && text.charAt(after) == '\n')
            {
                after++;
            }
            updated = text.substring(0, begin) + markdown + text.substring(after);
        }
        else
        {
            updated = text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + "\n" + markdown;
        }
        Files.writeString(doc, updated, StandardCharsets.UTF_8);
    }
}
