package io.fedlora.coordinator.admin;

import io.swagger.v3.oas.annotations.Hidden;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.boot.web.servlet.error.ErrorController;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The servlet container's error page ({@code /error}): whatever ended there (a {@code sendError} from a filter, an
 * exception no handler took) is answered as an RFC 9457 problem, never as Spring Boot's default JSON or HTML.
 * Exception messages are not echoed: they may carry internals.
 */
@Hidden
@RestController
public class ProblemErrorController implements ErrorController {

    @RequestMapping(path = "${server.error.path:/error}", produces = {MediaType.APPLICATION_PROBLEM_JSON_VALUE, MediaType.ALL_VALUE})
    public ResponseEntity<ProblemDetail> error(HttpServletRequest request) {
        Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        HttpStatus status = code instanceof Integer i && HttpStatus.resolve(i) != null ? HttpStatus.resolve(i) : HttpStatus.NOT_FOUND;
        if (!status.isError()) {
            status = HttpStatus.NOT_FOUND;
        }
        ProblemDetail p = ProblemDetail.forStatus(status);
        p.setTitle(status.getReasonPhrase());
        p.setDetail(status.is5xxServerError() ? "internal error; the coordinator log has the details" : status.getReasonPhrase());
        return ResponseEntity.status(status).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(p);
    }
}
