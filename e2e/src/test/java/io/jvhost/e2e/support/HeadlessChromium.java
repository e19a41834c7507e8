package io.jvhost.e2e.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's Chromium, headless, driven through the DevTools protocol over a {@link java.net.http.WebSocket}: navigate,
 * evaluate JavaScript, take screenshots, type keys. Started with the flags this machine needs (no sandbox as root, no
 * background networking: the network is closed) and a fresh profile.
 * <p>
 * {@link #findOrSkip()} looks for {@code /usr/bin/chromium} (or {@code JVHOST_CHROMIUM}); when it is missing the
 * test is skipped with a clear message, or fails when {@code JVHOST_REQUIRE_E2E=1} ({@code scripts/setup.sh
 * chromium} installs it).
 */
public final class HeadlessChromium implements AutoCloseable
{
    private static final Pattern LISTENING = Pattern.compile("DevTools listening on (ws://\\S+)");
    private static final Pattern ID = Pattern.compile("\"id\":(\\d+)");

    private final Process process;
    private final WebSocket page;
    private final HttpClient http = HttpClient.newHttpClient();
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<String>> pending = new ConcurrentHashMap<>();
    private final List<String> log = new ArrayList<>();

    private HeadlessChromium(final Process process, final WebSocket page)
    {
        this.process = process;
        this.page = page;
    }

    /**
     * @return the Chromium binary, or skips (fails under JVHOST_REQUIRE_E2E=1) when there is none.
     */
    public static Path findOrSkip()
    {
        final String env = System.getenv("JVHOST_CHROMIUM");
        final Path binary = Path.of(null != env && !env.isBlank() ? env : "/usr/bin/chromium");
        if (Files.isExecutable(binary))
        {
            return binary;
        }
        final String message = "no Chromium at " + binary + " for the browser end-to-end test (install it with"
            + " scripts/setup.sh chromium, i.e. apt-get install chromium; or set JVHOST_CHROMIUM)";
        if ("1".equals(System.getenv("JVHOST_REQUIRE_E2E")))
        {
            Assertions.fail(message);
        }
        Assumptions.abort(message);
        return binary;
    }

    /**
     * Starts Chromium with a {@code width×height} window and connects to its first page.
     */
    public static HeadlessChromium start(final Path binary, final Path workDir, final int width, final int height)
        throws IOException, InterruptedException
    {
        final Path profile = Files.createDirectories(workDir.resolve("chromium-profile"));
        final List<String> command = List.of(binary.toString(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--disable-default-apps", "--mute-audio",
            "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "--remote-debugging-port=0",
            "--remote-allow-origins=*", "about:blank");
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final Path logFile = workDir.resolve("chromium.log");
        final CompletableFuture<String> browserUrl = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("chromium-log").start(() ->
        {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = r.readLine()) != null)
                {
                    Files.writeString(logFile, line + "\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                    final Matcher m = LISTENING.matcher(line);
                    if (m.find())
                    {
                        browserUrl.complete(m.group(1));
                    }
                }
            }
            catch (final IOException e)
            {
                browserUrl.completeExceptionally(e);
            }
            browserUrl.completeExceptionally(new IOException("Chromium exited before DevTools listened"));
        });
        try
        {
            final URI browser = URI.create(browserUrl.get(60, TimeUnit.SECONDS));
            final HttpClient http = HttpClient.newHttpClient();
            final String list = http.send(HttpRequest.newBuilder(URI.create("http://" + browser.getAuthority()
                + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body();
            final Matcher m = Pattern.compile("\"webSocketDebuggerUrl\"\\s*:\\s*\"(ws://[^\"]+/devtools/page/[^\"]+)\"")
                .matcher(list);
            if (!m.find())
            {
                throw new IOException("no page target in " + list);
            }
            final String pageUrl = m.group(1);
            final HeadlessChromium[] self = new HeadlessChromium[1];
            final WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create(pageUrl), new WebSocket.Listener()
            {
                private final StringBuilder text = new StringBuilder();

                @Override
                public CompletionStage<?> onText(final WebSocket socket, final CharSequence data, final boolean last)
                {
                    text.append(data);
                    if (last)
                    {
                        final String message = text.toString();
                        text.setLength(0);
                        self[0].onMessage(message);
                    }
                    socket.request(1);
                    return null;
                }
            }).get(30, TimeUnit.SECONDS);
            self[0] = new HeadlessChromium(process, ws);
            return self[0];
        }
        catch (final Exception e)
        {
            process.destroyForcibly();
            throw new IOException("Chromium did not start: " + e + "; log: " + (Files.exists(logFile)
                ? Files.readString(logFile) : "(none)"), e);
        }
    }

    private void onMessage(final String message)
    {
        final Matcher m = ID.matcher(message);
        if (message.startsWith("{\"id\":") && m.find())
        {
            final CompletableFuture<String> f = pending.remove(Integer.parseInt(m.group(1)));
            if (null != f)
            {
                f.complete(message);
            }
        }
        else if (message.contains("\"Runtime.consoleAPICalled\"") || message.contains("\"Runtime.exceptionThrown\""))
        {
            synchronized (log)
            {
                log.add(message.length() > 400 ? message.substring(0, 400) : message);
            }
        }
    }

    /**
     * Sends a DevTools command and waits for its reply (the whole JSON text).
     *
     * @throws IOException when the reply is an error.
     */
    public String call(final String method, final String paramsJson) throws IOException
    {
        final int id = ids.incrementAndGet();
        final CompletableFuture<String> reply = new CompletableFuture<>();
        pending.put(id, reply);
        page.sendText("{\"id\":" + id + ",\"method\":\"" + method + "\",\"params\":" + paramsJson + "}", true);
        final String result;
        try
        {
            result = reply.get(60, TimeUnit.SECONDS);
        }
        catch (final Exception e)
        {
            throw new IOException(method + " got no reply: " + e, e);
        }
        if (result.contains("\"error\":"))
        {
            throw new IOException(method + " failed: " + result);
        }
        return result;
    }

    public void navigate(final String url) throws IOException
    {
        call("Runtime.enable", "{}");
        call("Page.enable", "{}");
        call("Page.navigate", "{\"url\":\"" + url + "\"}");
    }

    /**
     * @return the value of a JavaScript expression as JSON text (promises awaited).
     */
    public String evaluate(final String expression) throws IOException
    {
        final String reply = call("Runtime.evaluate", "{\"expression\":" + quote(expression)
            + ",\"returnByValue\":true,\"awaitPromise\":true}");
        final int at = reply.indexOf("\"value\":");
        if (at < 0)
        {
            return "undefined";
        }
        final int end = reply.lastIndexOf("}}}");
        return reply.substring(at + 8, end < 0 ? reply.length() : end);
    }

    /**
     * Polls {@code expression} until it is {@code true}.
     */
    public void await(final String expression, final Duration timeout) throws IOException, InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (System.nanoTime() < deadline)
        {
            last = evaluate(expression);
            if ("true".equals(last))
            {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("page never made '" + expression + "' true (last " + last + "); console: "
            + consoleLog());
    }

    /**
     * @return a PNG screenshot of the page area {@code x, y, width, height} (CSS pixels, scale 1).
     */
    public byte[] screenshot(final double x, final double y, final double width, final double height)
        throws IOException
    {
        final String reply = call("Page.captureScreenshot", "{\"format\":\"png\",\"captureBeyondViewport\":false,"
            + "\"clip\":{\"x\":" + x + ",\"y\":" + y + ",\"width\":" + width + ",\"height\":" + height
            + ",\"scale\":1}}");
        final Matcher m = Pattern.compile("\"data\":\"([^\"]+)\"").matcher(reply);
        if (!m.find())
        {
            throw new IOException("no screenshot data in " + reply.substring(0, Math.min(200, reply.length())));
        }
        return Base64.getDecoder().decode(m.group(1));
    }

    /**
     * Presses and releases a key the way a person typing would ({@code key} as in KeyboardEvent.key, {@code code}
     * as in KeyboardEvent.code, {@code keyCode} the Windows virtual key code).
     */
    public void type(final String key, final String code, final int keyCode, final String text) throws IOException
    {
        final String common = "\"key\":" + quote(key) + ",\"code\":" + quote(code) + ",\"windowsVirtualKeyCode\":"
            + keyCode + ",\"nativeVirtualKeyCode\":" + keyCode;
        call("Input.dispatchKeyEvent", "{\"type\":\"" + (null == text ? "rawKeyDown" : "keyDown") + "\"," + common
            + (null == text ? "" : ",\"text\":" + quote(text)) + "}");
        call("Input.dispatchKeyEvent", "{\"type\":\"keyUp\"," + common + "}");
    }

    /**
     * Clicks at (x, y).
     */
    public void click(final double x, final double y) throws IOException
    {
        for (final String type : new String[] {"mousePressed", "mouseReleased"})
        {
            call("Input.dispatchMouseEvent", "{\"type\":\"" + type + "\",\"x\":" + x + ",\"y\":" + y
                + ",\"button\":\"left\",\"clickCount\":1}");
        }
    }

    public List<String> consoleLog()
    {
        synchronized (log)
        {
            return List.copyOf(log);
        }
    }

    static String quote(final String s)
    {
        final StringBuilder sb = new StringBuilder("\"");
        for (final char c : s.toCharArray())
        {
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format("\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    @Override
    public void close()
    {
        try
        {
            page.sendClose(WebSocket.NORMAL_CLOSURE, "").get(2, TimeUnit.SECONDS);
        }
        catch (final Exception e)
        {
            // Going anyway.
        }
        // Chromium's helper processes (zygote, renderers, crashpad) may still write into the profile after the main
        // process ends; the test's temporary folder is deleted right after this, so wait for all of them.
        final List<ProcessHandle> family = new ArrayList<>(process.descendants().toList());
        process.destroy();
        try
        {
            if (!process.waitFor(10, TimeUnit.SECONDS))
            {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            for (final ProcessHandle p : family)
            {
                p.destroy();
                try
                {
                    p.onExit().get(10, TimeUnit.SECONDS);
                }
                catch (final java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e)
                {
                    p.destroyForcibly();
                }
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        http.close();
    }
}
