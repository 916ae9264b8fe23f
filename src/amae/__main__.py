from amae.cli import app

app()
