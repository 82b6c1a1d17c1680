from lmuq.app.cli import main

raise SystemExit(main())
