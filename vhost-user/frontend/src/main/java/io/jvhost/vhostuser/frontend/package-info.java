/**
 * An in-process vhost-user front-end: a small "VMM" that drives any vhost-user back-end (ours, or QEMU's C ones)
 * the way QEMU does. It is what the integration tests, fuzzers and benchmarks use.
 * <ul>
 * <li>{@link io.jvhost.vhostuser.frontend.GuestRam}: guest RAM in a memfd, cut into regions like a QEMU RAM block,
 * with a bump allocator and accessors by guest-physical address.</li>
 * <li>{@link io.jvhost.vhostuser.frontend.VhostUserFrontend}: the control connection, one method per request, strict
 * reply checks with a timeout, REPLY_ACK handling, and raw send/receive for hostile tests.</li>
 * <li>{@link io.jvhost.vhostuser.frontend.FrontendQueue}: a driver-side split ring in guest RAM with its kick and
 * call eventfds; the submit/kick/await path allocates nothing.</li>
 * <li>{@link io.jvhost.vhostuser.frontend.VirtioSession}: QEMU 10's init/start/stop sequences (legacy mode,
 * SET_MEM_TABLE or ADD_MEM_REG), built on the above.</li>
 * <li>{@link io.jvhost.vhostuser.frontend.BackendProcess}: a back-end run as a child process.</li>
 * </ul>
 * A typical test:
 * <pre>{@code
 * try (GuestRam ram = GuestRam.create(16 << 20, 2);
 *      VhostUserFrontend fe = VhostUserFrontend.connect(socket);
 *      VirtioSession session = VirtioSession.builder(fe, ram).queues(2, 256).build())
 * {
 *     long out = ram.allocate(4096, 64), in = ram.allocate(4096, 64);
 *     session.start();
 *     FrontendQueue q = session.queue(0);
 *     int head = q.add(new long[] {out, in}, new int[] {100, 4096}, 1, 1);
 *     q.publishAndKick();
 *     int n = q.awaitUsed(Duration.ofSeconds(5));   // q.usedHead(i), q.usedLength(i)
 *     session.stop();                                // GET_VRING_BASE per queue
 * }
 * }</pre>
 */
package io.jvhost.vhostuser.frontend;
