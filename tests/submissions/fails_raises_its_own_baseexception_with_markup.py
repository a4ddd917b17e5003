# A student's own exception class derived from BaseException (not Exception), whose
# message holds rich markup that does not parse ("[/]"), ANSI escapes that move the cursor
# up and clear the line, and a fake green success line. It is the student's failure
# (hook_error), recorded like any other, and printed, where it is, as text.


class Stop(BaseException):
    pass


def build_model(info):
    raise Stop("[/] \x1b[1A\x1b[2K\r[bold green]Done: 40 graded, 0 failed[/]")
