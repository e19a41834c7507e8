/**
 * virtio-snd wire structs: one flyweight per struct over a segment of the caller's (little-endian accessors, no
 * allocation per message).
 */
package io.jvhost.device.sound.wire;
