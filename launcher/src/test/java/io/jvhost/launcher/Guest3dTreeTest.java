package io.jvhost.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class Guest3dTreeTest
{
    @Test
    void theExplicitFolderWinsThenTheCacheThenHome()
    {
        assertThat(Guest3dTree.detect(Map.of("JVHOST_GUEST3D_DIR", "/x/g3", "JVHOST_CACHE", "/c"), "/h").dir())
            .isEqualTo(Path.of("/x/g3"));
        assertThat(Guest3dTree.detect(Map.of("JVHOST_GUEST3D_DIR", " ", "JVHOST_CACHE", "/c"), "/h").dir())
            .isEqualTo(Path.of("/c/guest3d"));
        assertThat(Guest3dTree.detect(Map.of(), "/h").dir()).isEqualTo(Path.of("/h/.cache/jvhost/guest3d"));
    }

    @Test
    void aTreeWithoutItsCompletionMarkOrFoldersIsAProblemNamingTheSetUpStep(@TempDir final Path dir)
        throws Exception
    {
        final Guest3dTree tree = new Guest3dTree(dir);
        assertThat(tree.problem()).contains(dir.toString()).contains("scripts/setup.sh guest3d");
        Files.createDirectories(tree.image());
        Files.createDirectories(tree.root());
        assertThat(tree.problem()).as("image/ and root/ without .complete (an interrupted set-up)").isNotNull();
        Files.writeString(dir.resolve(".complete"), "key\n");
        assertThat(tree.problem()).isNull();
        assertThat(tree.image()).isEqualTo(dir.resolve("image"));
        assertThat(tree.root()).isEqualTo(dir.resolve("root"));
    }
}
