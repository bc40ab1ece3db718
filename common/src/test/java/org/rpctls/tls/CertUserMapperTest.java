package org.rpctls.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CertUserMapperTest {
    private static Optional<String> user(String value, String domain) {
        return CertUserMapper.userPart(value.getBytes(StandardCharsets.UTF_8), domain);
    }

    @Test
    void suffixMatchIgnoresCase() {
        assertEquals(Optional.of("rmacklem"), user("rmacklem@uoguelph.ca", "uoguelph.ca"));
        assertEquals(Optional.of("rmacklem"), user("rmacklem@UOGuelph.CA", "uoguelph.ca"));
    }

    @Test
    void wrongOrMissingDomainGivesNothing() {
        assertEquals(Optional.empty(), user("rmacklem@example.com", "uoguelph.ca"));
        assertEquals(Optional.empty(), user("rmacklem", "uoguelph.ca"));
        assertEquals(Optional.empty(), user("@uoguelph.ca", "uoguelph.ca"));
        // the domain must match at the end, not somewhere inside
        assertEquals(Optional.empty(), user("a@uoguelph.ca.evil.org", "uoguelph.ca"));
    }

    @Test
    void controlCharactersAndBadUtf8AreRefused() {
        assertEquals(Optional.empty(), user("ro\u0000ot@x.org", "x.org"));
        assertEquals(Optional.empty(), CertUserMapper.userPart(new byte[] {(byte) 0xff, 'a', '@', 'x', '.', 'o', 'r', 'g'}, "x.org"));
    }
}
