/**
 * {@code --http}: the web console. {@link dev.converge.daemon.web.WebConsole} serves a static page
 * (HTML, JavaScript and CSS from the jar: nothing is fetched from elsewhere) and a small JSON API
 * that the page polls: {@code GET /api/state} answers the daemon's own QMP queries (query-jobs,
 * query-migrate, query-migrate-parameters, query-status) in one object, so the page shows what any
 * QMP client sees. With {@code --http-control}, {@code POST /api/command} runs the few QMP commands
 * an operator needs from the page ({@link dev.converge.daemon.web.ConsoleCommands}), through the
 * same dispatcher, validation and error texts as a QMP socket.
 *
 * <p>Why the page can be trusted on a shared host: it is read-only unless asked; a command must
 * carry the header {@code X-Converge-Console}, which a page of another origin cannot send without
 * a CORS preflight that this server never grants, and a request whose {@code Origin} is not this
 * server's is refused; the console binds where it is told (give it 127.0.0.1 and tunnel).
 */
package dev.converge.daemon.web;
