package io.jvhost.device.gpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.UUID;

import io.jvhost.device.gpu.wire.CtxCreate;
import io.jvhost.device.gpu.wire.CtxResource;
import io.jvhost.device.gpu.wire.GetCapset;
import io.jvhost.device.gpu.wire.GetEdid;
import io.jvhost.device.gpu.wire.ResourceAttachBacking;
import io.jvhost.device.gpu.wire.ResourceCreate2d;
import io.jvhost.device.gpu.wire.ResourceCreate3d;
import io.jvhost.device.gpu.wire.ResourceCreateBlob;
import io.jvhost.device.gpu.wire.ResourceFlush;
import io.jvhost.device.gpu.wire.ResourceRef;
import io.jvhost.device.gpu.wire.SetScanout;
import io.jvhost.device.gpu.wire.SetScanoutBlob;
import io.jvhost.device.gpu.wire.Submit3d;
import io.jvhost.device.gpu.wire.Transfer3d;
import io.jvhost.device.gpu.wire.TransferToHost2d;
import io.jvhost.device.gpu.wire.UpdateCursor;

import static io.jvhost.device.gpu.GpuProtocol.*;

/**
 * The device's {@link CommandTable}: for each command its request structure's length, its OK response and its
 * handler, which reads the request through a flyweight and hands the values to the part of the device that acts
 * ({@link Renderer}, {@link Scanouts}, {@link Cursor}, {@link HeldRequests}). Features the guest was not offered
 * make their commands refused with the reason. The preamble they all share is {@link CommandDecoder}'s.
 * <pre>
 *   command                  request  OK response        handled by
 *   GET_DISPLAY_INFO         24       OK_DISPLAY_INFO    held until the display answers (defaults without one)
 *   RESOURCE_CREATE_2D       40       OK_NODATA          renderer
 *   RESOURCE_UNREF           32       OK_NODATA          scanouts let go, then renderer
 *   SET_SCANOUT              48       OK_NODATA          scanouts
 *   RESOURCE_FLUSH           48       OK_NODATA          scanouts, pixels from the renderer
 *   TRANSFER_TO_HOST_2D      56       OK_NODATA          renderer
 *   RESOURCE_ATTACH_BACKING  32+16n   OK_NODATA          renderer
 *   RESOURCE_DETACH_BACKING  32       OK_NODATA          renderer
 *   GET_CAPSET_INFO          32       OK_CAPSET_INFO     renderer (3D mode)
 *   GET_CAPSET               32       OK_CAPSET          renderer (3D mode)
 *   GET_EDID                 32       OK_EDID            held until the display answers (F_EDID)
 *   RESOURCE_ASSIGN_UUID     32       OK_RESOURCE_UUID   here (F_RESOURCE_UUID)
 *   RESOURCE_CREATE_BLOB     56+16n   OK_NODATA          renderer (F_RESOURCE_BLOB)
 *   SET_SCANOUT_BLOB         96       OK_NODATA          scanouts (F_RESOURCE_BLOB)
 *   CTX_CREATE               96       OK_NODATA          renderer (3D mode)
 *   CTX_DESTROY              24       OK_NODATA          renderer (3D mode)
 *   CTX_ATTACH/DETACH_RES.   32       OK_NODATA          renderer (3D mode)
 *   RESOURCE_CREATE_3D       72       OK_NODATA          renderer (3D mode)
 *   TRANSFER_TO/FROM_HOST_3D 72       OK_NODATA          renderer (3D mode)
 *   SUBMIT_3D                32+size  OK_NODATA          renderer (3D mode)
 *   RESOURCE_MAP/UNMAP_BLOB           (3D blobs)         not offered
 * In 3D mode a fenced command that succeeded is answered when its fence has signalled ({@link HeldRequests}).
 *   UPDATE_CURSOR, MOVE_CURSOR  56    (cursor queue: none) cursor
 * </pre>
 */
final class GpuCommands
{
    private static final ValueLayout.OfLong U64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final String NO_3D = "3D commands need VIRTIO_GPU_F_VIRGL, which is not offered";

    private final Renderer renderer;
    private final Scanouts scanouts;
    private final Cursor cursor;
    private final HeldRequests held;
    private final DisplayInfo info;
    private final DisplayOutputs out;
    private final BackingReader entries;
    private final GuestErrors errors;
    private final MemorySegment response;
    private final Responses responses;
    private final CommandTable table = new CommandTable();

    private final ResourceCreate2d create2d = new ResourceCreate2d();
    private final ResourceRef resourceRef = new ResourceRef();
    private final SetScanout setScanout = new SetScanout();
    private final SetScanoutBlob setScanoutBlob = new SetScanoutBlob();
    private final ResourceFlush flush = new ResourceFlush();
    private final TransferToHost2d transfer = new TransferToHost2d();
    private final ResourceAttachBacking attach = new ResourceAttachBacking();
    private final GetEdid getEdid = new GetEdid();
    private final ResourceCreateBlob createBlob = new ResourceCreateBlob();
    private final UpdateCursor updateCursor = new UpdateCursor();
    private final GetCapset getCapset = new GetCapset();
    private final CtxCreate ctxCreate = new CtxCreate();
    private final CtxResource ctxResource = new CtxResource();
    private final ResourceCreate3d create3d = new ResourceCreate3d();
    private final Transfer3d transfer3d = new Transfer3d();
    private final Submit3d submit3d = new Submit3d();

    GpuCommands(final GpuOptions options, final ControlRequest request, final Renderer renderer,
        final Scanouts scanouts, final Cursor cursor, final HeldRequests held, final DisplayInfo info,
        final DisplayOutputs out, final BackingReader entries, final GuestErrors errors,
        final Responses responses)
    {
        final MemorySegment response = responses.buffer;
        this.responses = responses;
        this.renderer = renderer;
        this.scanouts = scanouts;
        this.cursor = cursor;
        this.held = held;
        this.info = info;
        this.out = out;
        this.entries = entries;
        this.errors = errors;
        this.response = response;
        create2d.wrap(request.buffer);
        resourceRef.wrap(request.buffer);
        setScanout.wrap(request.buffer);
        setScanoutBlob.wrap(request.buffer);
        flush.wrap(request.buffer);
        transfer.wrap(request.buffer);
        attach.wrap(request.buffer);
        getEdid.wrap(request.buffer);
        createBlob.wrap(request.buffer);
        updateCursor.wrap(request.buffer);
        getCapset.wrap(request.buffer);
        ctxCreate.wrap(request.buffer);
        ctxResource.wrap(request.buffer);
        create3d.wrap(request.buffer);
        transfer3d.wrap(request.buffer);
        submit3d.wrap(request.buffer);

        control(CMD_GET_DISPLAY_INFO, HDR_SIZE, RESP_OK_DISPLAY_INFO, this::getDisplayInfo);
        control(CMD_RESOURCE_CREATE_2D, ResourceCreate2d.SIZE, RESP_OK_NODATA, this::createResource2d);
        control(CMD_RESOURCE_UNREF, ResourceRef.SIZE, RESP_OK_NODATA, this::unrefResource);
        control(CMD_SET_SCANOUT, SetScanout.SIZE, RESP_OK_NODATA, r -> scanouts.setScanout(setScanout));
        control(CMD_RESOURCE_FLUSH, ResourceFlush.SIZE, RESP_OK_NODATA, this::flushResource);
        control(CMD_TRANSFER_TO_HOST_2D, TransferToHost2d.SIZE, RESP_OK_NODATA, this::transferToHost2d);
        control(CMD_RESOURCE_ATTACH_BACKING, ResourceAttachBacking.SIZE, RESP_OK_NODATA, this::attachBacking);
        control(CMD_RESOURCE_DETACH_BACKING, ResourceRef.SIZE, RESP_OK_NODATA,
            r -> renderer.detachBacking(resourceRef.resourceId()));
        if (options.threeD())
        {
            control(CMD_GET_CAPSET_INFO, GetCapset.SIZE, RESP_OK_CAPSET_INFO,
                r -> renderer.capsetInfo(getCapset.capsetIndex(), response));
            control(CMD_GET_CAPSET, GetCapset.SIZE, RESP_OK_CAPSET, this::getCapset);
        }
        else
        {
            table.add(Command.disabled(CMD_GET_CAPSET_INFO, CONTROL_QUEUE, HDR_SIZE, "no capsets (num_capsets = 0)"));
            table.add(Command.disabled(CMD_GET_CAPSET, CONTROL_QUEUE, HDR_SIZE, "no capsets (num_capsets = 0)"));
        }
        if (options.edid())
        {
            control(CMD_GET_EDID, GetEdid.SIZE, RESP_OK_EDID, this::getEdid);
        }
        else
        {
            table.add(Command.disabled(CMD_GET_EDID, CONTROL_QUEUE, GetEdid.SIZE,
                "VIRTIO_GPU_F_EDID is not offered"));
        }
        if (options.resourceUuid())
        {
            control(CMD_RESOURCE_ASSIGN_UUID, ResourceRef.SIZE, RESP_OK_RESOURCE_UUID, this::assignUuid);
        }
        else
        {
            table.add(Command.disabled(CMD_RESOURCE_ASSIGN_UUID, CONTROL_QUEUE, ResourceRef.SIZE,
                "VIRTIO_GPU_F_RESOURCE_UUID is not offered"));
        }
        if (options.resourceBlob())
        {
            control(CMD_RESOURCE_CREATE_BLOB, ResourceCreateBlob.SIZE, RESP_OK_NODATA, this::createBlob);
            control(CMD_SET_SCANOUT_BLOB, SetScanoutBlob.SIZE, RESP_OK_NODATA,
                r -> scanouts.setScanoutBlob(setScanoutBlob));
        }
        else
        {
            table.add(Command.disabled(CMD_RESOURCE_CREATE_BLOB, CONTROL_QUEUE, ResourceCreateBlob.SIZE,
                "VIRTIO_GPU_F_RESOURCE_BLOB is not offered"));
            table.add(Command.disabled(CMD_SET_SCANOUT_BLOB, CONTROL_QUEUE, SetScanoutBlob.SIZE,
                "VIRTIO_GPU_F_RESOURCE_BLOB is not offered"));
        }
        for (int type = options.threeD() ? CMD_SUBMIT_3D + 1 : CMD_CTX_CREATE; type <= CMD_RESOURCE_UNMAP_BLOB; type++)
        {
            table.add(Command.disabled(type, CONTROL_QUEUE, HDR_SIZE,
                options.threeD() ? "3D blob resources are not offered" : NO_3D));
        }
        if (options.threeD())
        {
            control(CMD_CTX_CREATE, CtxCreate.SIZE, RESP_OK_NODATA,
                r -> renderer.ctxCreate(r.ctxId, ctxCreate.nameLength(), ctxCreate.contextInit(),
                    0 != (r.features & 1L << F_CONTEXT_INIT), r.buffer));
            control(CMD_CTX_DESTROY, HDR_SIZE, RESP_OK_NODATA, r -> renderer.ctxDestroy(r.ctxId));
            control(CMD_CTX_ATTACH_RESOURCE, CtxResource.SIZE, RESP_OK_NODATA,
                r -> renderer.ctxResource(true, r.ctxId, ctxResource.resourceId()));
            control(CMD_CTX_DETACH_RESOURCE, CtxResource.SIZE, RESP_OK_NODATA,
                r -> renderer.ctxResource(false, r.ctxId, ctxResource.resourceId()));
            control(CMD_RESOURCE_CREATE_3D, ResourceCreate3d.SIZE, RESP_OK_NODATA,
                r -> renderer.createResource3d(create3d));
            control(CMD_TRANSFER_TO_HOST_3D, Transfer3d.SIZE, RESP_OK_NODATA,
                r -> renderer.transfer3d(true, r.ctxId, transfer3d, r.memory));
            control(CMD_TRANSFER_FROM_HOST_3D, Transfer3d.SIZE, RESP_OK_NODATA,
                r -> renderer.transfer3d(false, r.ctxId, transfer3d, r.memory));
            control(CMD_SUBMIT_3D, Submit3d.SIZE, RESP_OK_NODATA,
                r -> renderer.submit3d(r.ctxId, submit3d.size(), r, Submit3d.SIZE));
        }
        final Command.Handler cursorHandler = this::cursorCommand;
        table.add(Command.offered(CMD_UPDATE_CURSOR, CURSOR_QUEUE, UpdateCursor.SIZE, RESP_OK_NODATA, cursorHandler));
        table.add(Command.offered(CMD_MOVE_CURSOR, CURSOR_QUEUE, UpdateCursor.SIZE, RESP_OK_NODATA, cursorHandler));
    }

    private void control(final int type, final int size, final int okResponse, final Command.Handler handler)
    {
        table.add(Command.offered(type, CONTROL_QUEUE, size, okResponse, handler));
    }

    CommandTable table()
    {
        return table;
    }

    /**
     * GET_DISPLAY_INFO: from the display (held until it answers), else the defaults.
     */
    private int getDisplayInfo(final ControlRequest request)
    {
        if (!out.attached())
        {
            info.fillDisplayInfo(response, null);
            return Command.Handler.OK;
        }
        return held.hold(request, CMD_GET_DISPLAY_INFO, 0);
    }

    /**
     * GET_CAPSET: the payload is as long as the capset.
     */
    private int getCapset(final ControlRequest request)
    {
        final int result = renderer.capset(getCapset.capsetId(), getCapset.capsetVersion(), response);
        responses.capsetPayload = renderer.capsetBytes();
        return result;
    }

    /**
     * GET_EDID: the scanout is checked here, because QEMU never answers for an invalid one.
     */
    private int getEdid(final ControlRequest request)
    {
        final long scanout = getEdid.scanout();
        if (scanout >= scanouts.count())
        {
            return errors.fail(RESP_ERR_INVALID_PARAMETER, "scanout " + scanout + " >= " + scanouts.count());
        }
        if (!out.attached())
        {
            info.fillEdid(response, (int)scanout, null);
            return Command.Handler.OK;
        }
        return held.hold(request, CMD_GET_EDID, (int)scanout);
    }

    private int createResource2d(final ControlRequest request)
    {
        return renderer.createResource2d(create2d.resourceId(), create2d.format(), create2d.width(),
            create2d.height());
    }

    /**
     * RESOURCE_UNREF: turns off the scanouts showing it, then the renderer drops it.
     */
    private int unrefResource(final ControlRequest request)
    {
        final int resourceId = resourceRef.resourceId();
        final Resource resource = renderer.resource(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        scanouts.release(resource);
        renderer.unref(resource);
        return Command.Handler.OK;
    }

    private int flushResource(final ControlRequest request)
    {
        return scanouts.flush(flush.resourceId(), flush.x(), flush.y(), flush.width(), flush.height(),
            request.memory);
    }

    private int transferToHost2d(final ControlRequest request)
    {
        return renderer.transferToHost2d(transfer.resourceId(), transfer.x(), transfer.y(), transfer.width(),
            transfer.height(), transfer.offset(), request.memory);
    }

    private int attachBacking(final ControlRequest request)
    {
        return renderer.attachBacking(request, entries, attach.resourceId(), attach.nrEntries());
    }

    private int createBlob(final ControlRequest request)
    {
        return renderer.createBlob(request, entries, createBlob.resourceId(), createBlob.blobMem(),
            createBlob.size(), createBlob.nrEntries());
    }

    /**
     * RESOURCE_ASSIGN_UUID: a random (RFC 4122 version 4) UUID, the same for the resource's lifetime.
     */
    private int assignUuid(final ControlRequest request)
    {
        final int resourceId = resourceRef.resourceId();
        final Resource resource = renderer.resource(resourceId);
        if (null == resource)
        {
            return errors.noResource(resourceId);
        }
        if (!resource.hasUuid)
        {
            final UUID uuid = UUID.randomUUID();
            resource.uuidMostSignificant = uuid.getMostSignificantBits();
            resource.uuidLeastSignificant = uuid.getLeastSignificantBits();
            resource.hasUuid = true;
        }
        // RFC 4122 byte order: big-endian.
        response.set(U64_BE, UUID_RESP_UUID, resource.uuidMostSignificant);
        response.set(U64_BE, UUID_RESP_UUID + 8, resource.uuidLeastSignificant);
        return Command.Handler.OK;
    }

    private int cursorCommand(final ControlRequest request)
    {
        cursor.command(request.header.type(), updateCursor, request.memory);
        return Command.Handler.OK;
    }
}
