package io.fedlora.coordinator.security;

import java.io.IOException;
import java.io.Writer;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;

/**
 * Tomcat's error report for requests it refuses before Spring sees them (a malformed request line, an
 * undecodable URI, an encoded slash): an RFC 9457 problem body instead of Tomcat's HTML page. Neither the
 * request nor Tomcat's message (which can quote the request) is echoed.
 */
public class ProblemErrorReportValve extends ErrorReportValve {

    @Override
    protected void report(Request request, Response response, Throwable throwable) {
        int status = response.getStatus();
        if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
            return;
        }
        String reason = reason(status);
        try {
            response.setContentType(ProblemWriter.MEDIA_TYPE);
            response.setCharacterEncoding("UTF-8");
            Writer w = response.getReporter();
            if (w != null) {
                w.write(ProblemWriter.body(status, reason, status == 400
                        ? "the request is malformed or its path is not in canonical form" : reason));
                response.finishResponse();
            }
        } catch (IOException | IllegalStateException e) {
            // the connection is gone; nothing left to tell the client
        }
    }

    private static String reason(int status) {
        String r = org.springframework.http.HttpStatus.resolve(status) == null ? null
                : org.springframework.http.HttpStatus.resolve(status).getReasonPhrase();
        return r == null ? "Error " + status : r;
    }

}
