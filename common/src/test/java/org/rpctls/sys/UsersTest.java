package org.rpctls.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class UsersTest {
    @Test
    void rootIsUidZeroWithGroupZeroFirst() {
        var root = Users.lookup("root").orElseThrow();
        assertEquals(0, root.uid());
        assertEquals(0, root.gids()[0]);
    }

    @Test
    void daemonMatchesTheSystemDatabase() throws Exception {
        // Compare with what id(1) says, an independent reader of the same databases.
        var p = new ProcessBuilder("id", "-u", "daemon").redirectErrorStream(true).start();
        int uid = Integer.parseInt(new String(p.getInputStream().readAllBytes()).trim());
        var g = new ProcessBuilder("id", "-G", "daemon").redirectErrorStream(true).start();
        String[] gids = new String(g.getInputStream().readAllBytes()).trim().split("\\s+");
        var d = Users.lookup("daemon").orElseThrow();
        assertEquals(uid, d.uid());
        assertEquals(gids.length, d.gids().length);
        assertEquals(Integer.parseInt(gids[0]), d.gids()[0]);
    }

    @Test
    void unknownUserIsEmpty() {
        assertTrue(Users.lookup("no-such-user-rpctls").isEmpty());
    }
}
