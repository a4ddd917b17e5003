# Imports a package the grading environment does not have.
import timm_not_installed_anywhere  # noqa: F401
