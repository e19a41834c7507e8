/**
 * virtio-scsi (virtio ID 8), a drop-in for rust-vmm's vhost-device-scsi: {@link io.jvhost.device.scsi.ScsiDevice}
 * (queues, configuration, request and control framing), {@link io.jvhost.device.scsi.LogicalUnit} (an emulated
 * SBC disk over a raw image file), {@link io.jvhost.device.scsi.DiskIo} (the bounded executor that moves data
 * between the image and guest memory off the ring's worker).
 * <pre>
 *  request queue --header, CDB--> LogicalUnit --answered at once--> response + data-in
 *                                             --READ/WRITE/SYNC/UNMAP--> DiskIo thread --done--> worker completes
 * </pre>
 */
package io.jvhost.device.scsi;
