package io.fedlora.coordinator.admin;

import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.fedlora.coordinator.model.InvalidModelException;
import jakarta.validation.ConstraintViolationException;
import java.nio.file.InvalidPathException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.springframework.beans.TypeMismatchException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.validation.FieldError;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.HandlerMethodValidationException;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.resource.NoResourceFoundException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Turns failures of the admin API into RFC 9457 problem bodies; validation problems name the offending
 * field(s) in {@code detail} and in an {@code errors} list of {@code {field, message}}.
 */
@RestControllerAdvice
public class ProblemHandler extends ResponseEntityExceptionHandler {

    @Override
    protected ResponseEntity<Object> handleMethodArgumentNotValid(MethodArgumentNotValidException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        List<Map<String, String>> errors = new ArrayList<>();
        for (FieldError fe : ex.getBindingResult().getFieldErrors()) {
            errors.add(error(fe.getField(), fe.getDefaultMessage()));
        }
        ex.getBindingResult().getGlobalErrors().forEach(ge -> errors.add(error(ge.getObjectName(), ge.getDefaultMessage())));
        String detail = errors.stream().map(e -> e.get("field") + ": " + e.get("message")).collect(Collectors.joining("; "));
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, detail);
        p.setTitle("Invalid request");
        p.setProperty("errors", errors);
        return ResponseEntity.badRequest().headers(headers).body(p);
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        String field = null;
        String detail = "malformed JSON body";
        if (ex.getCause() instanceof UnrecognizedPropertyException upe) {
            field = path(upe);
            detail = field + ": unknown field (the request's fields are listed in the OpenAPI document)";
        } else if (ex.getCause() instanceof MismatchedInputException mie) {
            field = path(mie);
            detail = field + ": " + (mie instanceof InvalidFormatException ife
                    ? "not a valid " + typeName(ife.getTargetType())
                    : "wrong JSON type");
        }
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, detail);
        p.setTitle("Invalid request");
        if (field != null) {
            p.setProperty("errors", List.of(error(field, detail)));
        }
        return ResponseEntity.badRequest().headers(headers).body(p);
    }

    /**
     * A query or path parameter of the wrong type ({@code ?limit=many}): 400 naming the parameter and the type it
     * needs, without echoing the value (Spring's default detail quotes it).
     */
    @Override
    protected ResponseEntity<Object> handleTypeMismatch(TypeMismatchException ex, HttpHeaders headers, HttpStatusCode status,
            WebRequest request) {
        String name = ex instanceof MethodArgumentTypeMismatchException m ? m.getName() : ex.getPropertyName();
        String field = name != null ? name : "parameter";
        return invalid(List.of(error(field, "not a valid " + typeName(ex.getRequiredType()))), headers);
    }

    /** An unknown route: 404 without echoing the path (it may hold anything). */
    @Override
    protected ResponseEntity<Object> handleNoResourceFoundException(NoResourceFoundException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, "no such route; the routes are listed in /v3/api-docs");
        p.setTitle("Not found");
        return ResponseEntity.status(HttpStatus.NOT_FOUND).headers(headers).body(p);
    }

    /** Constraint violations on query or path parameters ({@code /api/v1/audit?limit=0}): 400 naming the parameter. */
    @Override
    protected ResponseEntity<Object> handleHandlerMethodValidationException(HandlerMethodValidationException ex,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        List<Map<String, String>> errors = new ArrayList<>();
        ex.getParameterValidationResults().forEach(r -> {
            String name = r.getMethodParameter().getParameterName();
            r.getResolvableErrors().forEach(e -> errors.add(error(name, e.getDefaultMessage())));
        });
        return invalid(errors, headers);
    }

    /** The same, should a parameter be validated by a method-validation proxy instead of Spring MVC. */
    @ExceptionHandler(ConstraintViolationException.class)
    ResponseEntity<Object> constraintViolation(ConstraintViolationException ex) {
        List<Map<String, String>> errors = new ArrayList<>();
        ex.getConstraintViolations().forEach(v -> {
            String path = v.getPropertyPath().toString();
            errors.add(error(path.substring(path.lastIndexOf('.') + 1), v.getMessage()));
        });
        return invalid(errors, new HttpHeaders());
    }

    /** A path given in a request that the file system cannot even name (a NUL byte, say). */
    @ExceptionHandler(InvalidPathException.class)
    ProblemDetail invalidPath(InvalidPathException e) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, "not a valid file system path");
        p.setTitle("Invalid request");
        return p;
    }

    @ExceptionHandler(InvalidModelException.class)
    ProblemDetail invalidModel(InvalidModelException e) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, e.field() + ": " + e.getMessage());
        p.setTitle("Invalid request");
        p.setProperty("errors", List.of(error(e.field(), e.getMessage())));
        return p;
    }

    @ExceptionHandler(NotFoundException.class)
    ProblemDetail notFound(NotFoundException e) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, e.getMessage());
        p.setTitle("Not found");
        return p;
    }

    @ExceptionHandler(BusyException.class)
    ResponseEntity<ProblemDetail> busy(BusyException e) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
        p.setTitle("Busy");
        return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                .header(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, e.retryAfter().toSeconds()))).body(p);
    }

    @ExceptionHandler(ConflictException.class)
    ProblemDetail conflict(ConflictException e) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.CONFLICT, e.getMessage());
        p.setTitle("Conflict");
        return p;
    }

    private static ResponseEntity<Object> invalid(List<Map<String, String>> errors, HttpHeaders headers) {
        String detail = errors.stream().map(e -> e.get("field") + ": " + e.get("message")).collect(Collectors.joining("; "));
        ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, detail);
        p.setTitle("Invalid request");
        p.setProperty("errors", errors);
        return ResponseEntity.badRequest().headers(headers).body(p);
    }

    private static String typeName(Class<?> type) {
        if (type == null) {
            return "value";
        }
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "integer";
        }
        if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
            return "number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "boolean (true or false)";
        }
        if (type.isEnum()) {
            return "value (one of " + java.util.Arrays.toString(type.getEnumConstants()) + ")";
        }
        if (type == java.util.UUID.class) {
            return "UUID";
        }
        return type.getSimpleName();
    }

    private static String path(MismatchedInputException e) {
        return e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }

    private static Map<String, String> error(String field, String message) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("field", field);
        m.put("message", message);
        return m;
    }
}
