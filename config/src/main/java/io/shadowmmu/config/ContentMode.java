package io.shadowmmu.config;

/** What a physical frame stores. */
public enum ContentMode {
    /** Real bytes: 512 words of 8 bytes per 4 KiB frame. */
    FULL,
    /** One 64-bit tag per frame: every word of the frame reads as the tag. For runs too large for real bytes. */
    TAGGED
}
