/**
 * virtio-console (virtio ID 3), a drop-in for rust-vmm's vhost-device-console: {@link
 * io.jvhost.device.console.ConsoleDevice} (queues, configuration, data path), {@link
 * io.jvhost.device.console.MultiportControl} (the multiport control protocol) and the host sides, {@link
 * io.jvhost.device.console.NetworkBackend} (a TCP client on 127.0.0.1) and {@link
 * io.jvhost.device.console.NestedBackend} (this terminal in raw mode).
 * <pre>
 *  TCP client / terminal --read only into a waiting guest buffer--> receiveq --> guest
 *  guest --> transmitq --buffer held until the host side took every byte--> TCP client / terminal
 * </pre>
 */
package io.jvhost.device.console;
