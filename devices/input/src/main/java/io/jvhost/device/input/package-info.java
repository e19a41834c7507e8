/**
 * virtio-input (virtio ID 18) devices: {@link io.jvhost.device.input.InputDevice} (the device, an
 * {@link io.jvhost.device.input.InputSink}), the capabilities it reports ({@link io.jvhost.device.input.InputCapabilities},
 * the {@link io.jvhost.device.input.VirtualProfile virtual keyboard and tablet profiles}), evdev passthrough
 * ({@link io.jvhost.device.input.EvdevSource}, {@link io.jvhost.device.input.EvdevReader},
 * {@link io.jvhost.device.input.EvdevIoctl}) and a local control socket for other processes
 * ({@link io.jvhost.device.input.InputControlServer}).
 * <pre>
 *  display server, control socket, host evdev --event()--> EventRing --worker--> eventq (guest buffers)
 *                                                   guest LED changes: statusq --worker--> StatusListener
 * </pre>
 */
package io.jvhost.device.input;
