// jvhost web console: noVNC (served from this back-end) connected to the back-end's own WebSocket, one RFB
// connection per scanout. Keyboard and pointer go to the guest through the back-end's virtio-input device.
//
// With a display password, noVNC asks it over RFB (VNC Authentication); the scanout list and the snapshots want the
// same password by HTTP Basic, which this page sends itself once RFB has accepted it. So the scanout list is first
// fetched after the RFB connection is up: a request without the password would make the browser show its own
// password dialog.
import RFB from '@novnc/novnc';

const params = new URLSearchParams(location.search);
const picker = document.getElementById('scanout');
const statusText = document.getElementById('status');
const scale = document.getElementById('scale');
// Remote resizing changes the guest's mode with every change of the window, so it is off unless asked for
// (the checkbox, or ?resize=1).
const resize = document.getElementById('resize');
resize.checked = params.get('resize') === '1';
const snapshot = document.getElementById('snapshot');
const screen = document.getElementById('screen');

let scanout = Number.parseInt(params.get('scanout') ?? '0', 10) || 0;
let rfb = null;
let retry = null;
let password = null;
let refreshing = null;

function status(text, error = false) {
    statusText.textContent = text;
    statusText.classList.toggle('error', error);
}

// The Authorization header for the display password the viewer gave noVNC (none without one).
function authorization() {
    if (password === null) {
        return {};
    }
    const bytes = new TextEncoder().encode(':' + password);
    return { Authorization: 'Basic ' + btoa(String.fromCharCode(...bytes)) };
}

function socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    return scheme + location.host + '/websockify?scanout=' + scanout;
}

function connect() {
    clearTimeout(retry);
    if (rfb) {
        rfb.disconnect();
    }
    snapshot.href = 'snapshot/' + scanout + '.png';
    status('connecting to scanout ' + scanout + '…');
    const options = { shared: true, wsProtocols: ['binary'] };
    if (password !== null) {
        options.credentials = { password };
    }
    const current = new RFB(screen, socketUrl(), options);
    current.scaleViewport = scale.checked;
    current.resizeSession = resize.checked;
    current.focusOnClick = true;
    // The guest's cursor comes from the back-end; until the guest defines one (fbcon never does), or while it hides
    // it, noVNC shows a dot instead of nothing.
    current.showDotCursor = true;
    current.addEventListener('connect', () => {
        status('scanout ' + scanout + ': connected');
        current.focus();
        if (refreshing === null) {
            refreshScanouts();
            refreshing = setInterval(refreshScanouts, 3000);
        }
    });
    current.addEventListener('disconnect', (e) => {
        if (rfb !== current) {
            return;
        }
        status('scanout ' + scanout + ': ' + (e.detail.clean ? 'disconnected' : 'connection lost')
            + ', retrying…', true);
        retry = setTimeout(connect, 2000);
    });
    current.addEventListener('credentialsrequired', () => {
        password = window.prompt('VNC password for this display');
        current.sendCredentials({ password: password ?? '' });
    });
    current.addEventListener('securityfailure', (e) => {
        password = null;
        status('authentication failed: ' + (e.detail.reason || e.detail.status), true);
    });
    current.addEventListener('desktopname', (e) => {
        document.title = e.detail.name + ' — scanout ' + scanout;
    });
    rfb = current;
    // For tests and the curious: the live connection.
    window.jvhost = { rfb: current, scanout };
}

async function refreshScanouts() {
    try {
        const response = await fetch('scanouts', { cache: 'no-store', headers: authorization() });
        if (!response.ok) {
            status('scanout list: HTTP ' + response.status + (response.status === 401
                ? ' (the display password is needed in full)' : ''), true);
            return;
        }
        const info = await response.json();
        const wanted = info.scanouts.map((s) => String(s.index));
        const have = Array.from(picker.options, (o) => o.value);
        if (wanted.join() !== have.join()) {
            picker.replaceChildren(...info.scanouts.map((s) => new Option(String(s.index), String(s.index))));
        }
        for (const s of info.scanouts) {
            const option = picker.querySelector('option[value="' + s.index + '"]');
            option.textContent = s.index + (s.enabled ? ' (' + s.width + '×' + s.height + ')' : ' (off)');
        }
        picker.value = String(scanout);
    } catch (e) {
        // The back-end is restarting: the RFB connection's own retry reports it.
    }
}

picker.addEventListener('change', () => {
    scanout = Number.parseInt(picker.value, 10);
    params.set('scanout', String(scanout));
    history.replaceState(null, '', '?' + params.toString());
    connect();
});
scale.addEventListener('change', () => {
    if (rfb) {
        rfb.scaleViewport = scale.checked;
    }
});
resize.addEventListener('change', () => {
    if (resize.checked) {
        params.set('resize', '1');
    } else {
        params.delete('resize');
    }
    history.replaceState(null, '', '?' + params.toString());
    if (rfb) {
        rfb.resizeSession = resize.checked;
    }
});
// Without a password the link opens the PNG; with one, the PNG is fetched with the password and shown from memory.
snapshot.addEventListener('click', async (e) => {
    if (password === null) {
        return;
    }
    e.preventDefault();
    const tab = window.open('', '_blank');
    try {
        const response = await fetch(snapshot.href, { cache: 'no-store', headers: authorization() });
        if (!response.ok) {
            throw new Error('HTTP ' + response.status);
        }
        const url = URL.createObjectURL(await response.blob());
        if (tab) {
            tab.location.href = url;
        }
    } catch (err) {
        tab?.close();
        status('snapshot: ' + err.message, true);
    }
});
document.getElementById('ctrl-alt-del').addEventListener('click', () => {
    if (rfb) {
        rfb.sendCtrlAltDel();
        rfb.focus();
    }
});

connect();
