/**
 * virtio-vsock (virtio ID 19) as a vhost-user device: stream sockets between a guest and this host's Unix sockets
 * (Firecracker's hybrid vsock, as rust-vmm's vhost-device-vsock serves it), with credit-based flow control both ways.
 */
package io.jvhost.device.vsock;
